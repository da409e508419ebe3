package afbus.examples;

/** Told of each step of a job, during the call that runs it. */
interface IProgress {
    /** Step `n` is done; returns a note the worker keeps. */
    String step(int n);
}
