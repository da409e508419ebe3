package org.afbus.test;

parcelable Point {
    int x = 1;
    int y = -1;
}
