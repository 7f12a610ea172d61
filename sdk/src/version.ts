import { version } from '../package.json';

/** This package's version, announced to the gateway in the `meta` frame. */
export const SDK_VERSION: string = version;
