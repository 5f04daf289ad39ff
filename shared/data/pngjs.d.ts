/** The part of pngjs (https://github.com/pngjs/pngjs, MIT) this project uses: synchronous decode and encode. */
declare module 'pngjs' {
  /** A decoded PNG: `data` holds width·height RGBA pixels, 8 bits per channel (16-bit images are rescaled). */
  interface DecodedPng {
    width: number;
    height: number;
    /** PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
    colorType: number;
    /** True for RGB, palette and RGBA images. */
    color: boolean;
    alpha: boolean;
    depth: number;
    data: Buffer;
  }
  interface EncodeOptions {
    /** 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA (default). */
    colorType?: number;
    /** Whether `data` is RGBA (default true) or RGB. */
    inputHasAlpha?: boolean;
    deflateLevel?: number;
    filterType?: number;
  }
  const pngjs: {
    PNG: {
      sync: {
        read(buffer: Buffer, options?: { skipRescale?: boolean }): DecodedPng;
        write(png: { width: number; height: number; data: Buffer | Uint8Array }, options?: EncodeOptions): Buffer;
      };
    };
  };
  export default pngjs;
}
