package org.afbus.extra;

/** Names that are Rust keywords. */
parcelable Keywords {
    const int type = 3;
    int match;
    String fn = "fn";
    boolean self;
    long Self;
}
