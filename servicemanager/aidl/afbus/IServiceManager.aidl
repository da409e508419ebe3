package afbus;

import afbus.IServiceCallback;
import afbus.ServiceDebugInfo;

/**
 * The service registry of a bus, served by its bus master (afbus-servicemanager). Names name
 * objects; a get hands the caller a fresh reference minted by the object's owner.
 */
interface IServiceManager {
    /** The service registered as `name`, waiting up to `timeoutMs` (starting it if declared). */
    @nullable IBinder getService(String name, long timeoutMs);
    /** The service registered as `name` now, if any; never waits. */
    @nullable IBinder checkService(String name);
    /**
     * Registers `service` as `name`. Registering the same object again changes nothing; a name
     * another live object is registered under is refused (ILLEGAL_STATE): see replaceService.
     */
    void addService(String name, IBinder service);
    /**
     * Registers `service` as `name`, replacing the registration there if the caller may (its own
     * uid's, or anyone's for root and the bus owner). The name's watchers are told, the replaced
     * owner among them if it watches (a `Registration` does).
     */
    void replaceService(String name, IBinder service);
    /** The registered names the caller may find, sorted. */
    String[] listServices();
    /** Tells `callback` of registrations of `name`, the current one included. */
    void registerForNotifications(String name, IServiceCallback callback);
    /** Withdraws a callback. */
    void unregisterForNotifications(String name, IServiceCallback callback);
    /** Whether a file in the daemon's services directory declares `name`. */
    boolean isDeclared(String name);
    /** Every registration with its owner. */
    ServiceDebugInfo[] getServiceDebugInfo();
    /** The owner withdraws its own registration (a lazy service about to exit). */
    boolean tryUnregisterService(String name, IBinder service);
    /**
     * Who the object registered as `name` is, if it is registered now and the caller may get
     * it: [owner's runtime id, object number, owner's pid]; empty otherwise. A client that
     * already holds a reference to that object needs no get (no new reference minted).
     */
    long[] identifyService(String name);
    /** The names declared in the daemon's services directory that this caller may find, sorted. */
    String[] listDeclared();

    /**
     * Asks for `callback` to hear of every registration and removal from now on, of the names
     * the caller may find and call (what `afbus monitor` shows). One registration against
     * MAX_WATCHES_PER_UID.
     */
    void registerForAllNotifications(IServiceCallback callback);

    /** Withdraws a registerForAllNotifications; NAME_NOT_FOUND if there was none. */
    void unregisterForAllNotifications(IServiceCallback callback);
}
