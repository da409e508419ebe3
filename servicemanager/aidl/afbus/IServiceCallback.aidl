package afbus;

/** Told of registrations of the names it watches. */
oneway interface IServiceCallback {
    /** `name` was registered as `service`. */
    void onRegistration(String name, IBinder service);
    /** `name`'s owner died or withdrew it. */
    void onRemoval(String name);
}
