package org.afbus.test;

import org.afbus.test.ICallback;

/** The conformance cases, served by async and blocking implementations alike. */
interface IConformance {
    String echo(String text);
    /** Records `value`: one-way calls run in the order they were sent. */
    oneway void record(int value);
    /** The values recorded, once there are at least `count` (waiting up to 10 s). */
    int[] recorded(int count);
    /** Calls `cb.onEcho(text)` while its caller waits: a nested call. */
    String callBack(ICallback cb, String text);
    /** The caller's pid and uid, as the kernel stamped its call. */
    int[] whoAmI();
    /** What `fd` reads. */
    String readFd(in ParcelFileDescriptor fd);
    /** Sleeps `millis`, then counts one more sleep finished. */
    void sleep(int millis);
    /** How many sleeps finished. */
    int sleepsDone();
    /** Ends the service's process. */
    oneway void exit();
    /** After `millis`, a new callback object of the service's. */
    ICallback slowCallback(int millis);
    /** How many callback objects `slowCallback` made are alive in the service. */
    int liveCallbacks();
    /** The nice value the call runs at in the service. */
    int handlerNice();
}
