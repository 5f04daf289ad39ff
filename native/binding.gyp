{
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17", "-O2", "-O3"],
    "cflags_cc": ["-std=gnu++17", "-O3", "-ffp-contract=fast", "-fno-math-errno", "-fvisibility=hidden"],
    "cflags!": ["-O2"],
    "include_dirs": ["src"]
  },
  "targets": [
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["src/kernels.cc"],
      "defines": ["RFL_ISA=avx512", "RFL_ISA_NAME=\"avx512\"", "RFL_VW=16"],
      "conditions": [["target_arch=='x64'", { "cflags_cc": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma", "-mprefer-vector-width=512"] }]]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["src/kernels.cc"],
      "defines": ["RFL_ISA=avx2", "RFL_ISA_NAME=\"avx2+fma\"", "RFL_VW=8"],
      "conditions": [["target_arch=='x64'", { "cflags_cc": ["-mavx2", "-mfma"] }]]
    },
    {
      "target_name": "kernels_portable",
      "type": "static_library",
      "sources": ["src/kernels.cc"],
      "defines": ["RFL_ISA=portable", "RFL_ISA_NAME=\"portable\"", "RFL_VW=4"]
    },
    {
      "target_name": "rfl_native",
      "sources": ["src/addon.cc", "src/aes_ctr.cc"],
      "dependencies": ["kernels_avx512", "kernels_avx2", "kernels_portable"]
    }
  ]
}
