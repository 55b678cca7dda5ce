/* lic codec: embeds the default model file into the library (path given by LIC_DEFAULT_MODEL_PATH).
 * 64-byte alignment matches what the .licw parser expects of its buffer. */
    .section .rodata
    .balign 64
    .globl lic_default_model_begin
    .hidden lic_default_model_begin
lic_default_model_begin:
    .incbin LIC_DEFAULT_MODEL_PATH
    .globl lic_default_model_end
    .hidden lic_default_model_end
lic_default_model_end:
    .section .note.GNU-stack,"",@progbits
