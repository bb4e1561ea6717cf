# CPU-only build of the addon with node-gyp, for hosts without CMake. Same sources as CMakeLists.txt
# (scripts/native-sources.js lists them); no CUDA, no MPI. `npm run build:gyp` → build/Release/mrigan.node.
{
  "targets": [{
    "target_name": "mrigan",
    "sources": ["<!@(node scripts/native-sources.js)"],
    "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-fno-math-errno"],
    "ldflags": ["-fopenmp"],
    "conditions": [
      ["'<!(node -e \"console.log(require('fs').existsSync('/usr/include/x86_64-linux-gnu/cblas.h')||require('fs').existsSync('/usr/include/cblas.h'))\")'=='true'", {
        "defines": ["MRIGAN_OPENBLAS=1"],
        "libraries": ["-lopenblas"]
      }]
    ]
  }]
}
