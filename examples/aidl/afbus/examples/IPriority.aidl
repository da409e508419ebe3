package afbus.examples;

/** Reports the scheduling priority its handler thread runs at. */
interface IPriority {
    /** The handler's policy and priority during this call, as text. */
    String observe();
}
