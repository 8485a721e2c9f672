// The pixel worker's entry (the devstore's stand-in for the CLI's build): the runtime first,
// then the extension, whose `register` call hands the runtime its function.
import './web-pixels-extension.js';
import './index.js';
