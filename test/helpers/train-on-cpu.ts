/**
 * Loaded by mocha before any test (.mocharc.json `require`): simulations in tests train their clients on the CPU
 * workers unless a test asks for the GPU itself. With `trainDevice: auto`, a machine with a Vulkan driver would
 * train in lockstep on the GPU, whose groups depend on when the clients' tasks arrive, so runs that tests compare
 * bit for bit (repeatability, resumed runs) would agree only to rounding there.
 */
process.env['RFL_TRAIN_DEVICE'] ??= 'cpu';
export {};
