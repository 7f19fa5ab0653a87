// Time windows are shared with the extension: they live in server/protocol/window.ts.
export { checkWindow, isWithinWindow, parseWindow } from '../protocol/window.js';
