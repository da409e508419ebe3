package org.afbus.test;

@Backing(type="int")
enum Kind {
    A,
    B = 5,
    C,
    D = B | 0x100,
}
