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
    /** Registers `service` as `name`; the same uid replaces its own registration. */
    void addService(String name, IBinder service);
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
}
