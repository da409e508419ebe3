package org.example;

parcelable Item {
    String key;
    @nullable ParcelFileDescriptor fd;
    IBinder owner;
}
