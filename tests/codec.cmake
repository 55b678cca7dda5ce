# Codec pipeline tests through the public API (white-box build against the static library).
lic_add_test(test_codec SOURCES test_codec.c LIBS codec_static)
