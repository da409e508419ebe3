package afbus.examples;

/** A service that echoes, counts pings and sleeps: enough to exercise a live bus. */
interface IEcho {
    /** Returns `text` unchanged. */
    String echo(String text);
    /** Counts one ping; returns as soon as the call is queued. */
    oneway void ping();
    /** How many pings have arrived. */
    int pings();
    /** Sleeps `millis` milliseconds, then returns. */
    void sleep(int millis);
}
