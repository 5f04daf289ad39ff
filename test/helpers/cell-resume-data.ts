/** The synthetic data of the cell-resume test, shared by the test and its killed child process. */
export const CELL_RESUME_DATA = { count: 200, testCount: 40, seed: 9 } as const;
