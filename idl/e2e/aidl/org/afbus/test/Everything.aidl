package org.afbus.test;

import org.afbus.test.ICallback;
import org.afbus.test.Kind;
import org.afbus.test.Point;
import org.afbus.test.Shape;

/** One field of every kind. */
parcelable Everything {
    const int LIMIT = 3 * 4;

    /** A nested type. */
    parcelable Inner {
        String name = "inner";
    }

    boolean b = true;
    byte by = -3;
    char c = 'x';
    int i = LIMIT;
    long l = 1L << 40;
    float f = 1.5f;
    double d = -2.25;
    String s = "default";
    @nullable String ns;
    int[] ints = {1, 2, 3};
    @nullable String[] strs;
    List<Point> points;
    Kind kind = Kind.B;
    Kind[] kinds = {Kind.A, Kind.C};
    Point point;
    @nullable Point maybePoint;
    Shape shape;
    IBinder binder;
    @nullable ICallback callback;
    ICallback[] callbacks;
    int[2][2] matrix = {{1, 2}, {3, 4}};
    Inner inner;
    @nullable(heap=true) Everything next;
}
