package org.afbus.test;

/** File descriptors inside a parcelable. */
parcelable FdHolder {
    ParcelFileDescriptor fd;
    @nullable ParcelFileDescriptor maybe;
    ParcelFileDescriptor[] many;
}
