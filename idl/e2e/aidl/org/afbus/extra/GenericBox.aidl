package org.afbus.extra;

/** A generic structured parcelable: as in AOSP, its parameters name it but no field uses them. */
parcelable GenericBox<T, U> {
    int count = 2;
    String label;
}
