package org.example;

oneway interface IWatcher {
    void changed(String key);
}
