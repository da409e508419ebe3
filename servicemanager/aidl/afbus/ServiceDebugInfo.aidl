package afbus;

/** A registration, as the registry reports it. */
parcelable ServiceDebugInfo {
    /** The service's name. */
    String name;
    /** The pid that registered it. */
    int pid;
    /** Its uid. */
    int uid;
}
