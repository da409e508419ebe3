package org.afbus.test;

/** Called back by the service. */
interface ICallback {
    String onEcho(String text);
    oneway void onValue(int value);
}
