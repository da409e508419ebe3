package org.example;

union Value {
    long number = 0;
    String text;
    byte[] blob;
}
