package org.afbus.test;

import org.afbus.test.Everything;
import org.afbus.test.FdHolder;
import org.afbus.test.ICallback;
import org.afbus.test.Kind;
import org.afbus.test.Point;
import org.afbus.test.Shape;

/** A service with one method per type and direction under test. */
interface ITestService {
    /** A constant expression. */
    const int MAGIC = 0x1234 + (1 << 4);
    const String GREETING = "hello";

    boolean repeatBoolean(boolean v);
    byte repeatByte(byte v);
    char repeatChar(char v);
    int repeatInt(int v);
    long repeatLong(long v);
    float repeatFloat(float v);
    double repeatDouble(double v);
    String repeatString(String v);
    @nullable String repeatNullableString(@nullable String v);
    Kind repeatKind(Kind v);
    byte[] repeatBytes(in byte[] v);
    /** Returns the input and writes it reversed into `reversed`. */
    int[] reverseInts(in int[] input, out int[] reversed);
    String[] reverseStrings(in String[] input, out String[] reversed);
    List<String> repeatStringList(in List<String> v);
    @nullable int[] repeatNullableInts(in @nullable int[] v);
    int[3] rotate(in int[3] v);
    Point movePoint(in Point p, int dx, int dy);
    /** Negates both coordinates. */
    void negate(inout Point p);
    void fillEverything(out Everything e);
    Shape repeatShape(in Shape s);
    Everything repeatEverything(in Everything e);
    @nullable Everything repeatNullableEverything(in @nullable Everything e);
    IBinder repeatBinder(IBinder b);
    @nullable IBinder repeatNullableBinder(@nullable IBinder b);
    ParcelFileDescriptor dupFd(in ParcelFileDescriptor fd);
    String readFd(in ParcelFileDescriptor fd);
    /** Reads each fd of `h` and returns what it read, in order. */
    String[] readFdHolder(in FdHolder h);
    String callBack(ICallback cb, String text);
    ICallback makeCallback(String prefix);
    void failWith(int code, String message);
    oneway void notifyLater(ICallback cb, int value);
}
