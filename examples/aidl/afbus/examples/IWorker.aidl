package afbus.examples;

import afbus.examples.IProgress;

/** Runs jobs, calling back into the caller while it does. */
interface IWorker {
    /** Runs `steps` steps, telling `progress` of each; returns the notes it got back. */
    String[] run(int steps, IProgress progress);
}
