package org.afbus.extra;

/** A parcelable with an extension slot. */
parcelable Extendable {
    int a = 1;
    ParcelableHolder ext;
}
