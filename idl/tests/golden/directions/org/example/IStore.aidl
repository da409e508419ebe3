package org.example;

import org.example.IWatcher;
import org.example.Item;

interface IStore {
    void put(in Item item, in @nullable byte[] payload) = 10;
    boolean get(String key, out Item item) = 11;
    void update(inout Item item) = 12;
    @nullable IBinder token() = 13;
    ParcelFileDescriptor open(in ParcelFileDescriptor dir, int flags) = 14;
    void watch(IWatcher watcher, in List<IWatcher> others) = 20;
}
