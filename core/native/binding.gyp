{
  "targets": [
    {
      "target_name": "dg_native",
      "sources": [
        "binding.c",
        "backend.c",
        "dg_cpu.c",
        "dg_layers.c",
        "dg_dp.c",
        "dg_gemm.c",
        "dg_threads.c",
        "dg_rng.c",
        "dg_dump.c",
        "dg_dump_iteration.c",
        "dg_kernels_avx2.c"
      ],
      "cflags": ["-O3", "-std=c11", "-D_GNU_SOURCE", "-fno-math-errno", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags!": ["-fno-exceptions"],
      "libraries": ["-lm", "-lpthread", "-ldl"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=c11", "-fno-math-errno"] }
    }
  ]
}
