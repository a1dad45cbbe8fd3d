{
  # Compiled on `npm install` / `npm ci` with node-gyp, like hnswlib-node. The include paths resolve
  # from this folder up to the project's node_modules: hnswlib's headers are hnswlib-node's own copy,
  # so the file this writes is the very format hnswlib-node's readIndex reads.
  "targets": [
    {
      "target_name": "hnswbuild",
      "sources": [ "src/hnswbuild.cc", "src/hnswgraph.cc", "src/postings.cc" ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('hnswlib-node/package.json')), 'src')\")"
      ],
      "defines": [ "NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8" ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions" ],
      "cflags_cc": [ "-O3", "<!@(node simd-flags.cjs)" ],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "OTHER_CPLUSPLUSFLAGS": [ "<!@(node simd-flags.cjs)" ]
          }
        }]
      ]
    }
  ]
}
