// The compiled addon (node-gyp builds it into build/Release on `npm install` / `npm ci`).
"use strict";
module.exports = require("./build/Release/hnswbuild.node");
