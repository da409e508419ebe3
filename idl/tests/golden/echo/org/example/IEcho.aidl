package org.example;

/** Echoes text back. */
@Descriptor(value="org.example.IEchoService")
interface IEcho {
    /** The longest text echoed. */
    const int MAX_LEN = 4 * 1024;
    const String PREFIX = "echo: ";

    /** Returns `text` unchanged. */
    String echo(String text);
    oneway void fireAndForget(int seq);
}
