# Codec pipeline tests through the public API (white-box build against the static library).
lic_add_test(test_codec SOURCES test_codec.c LIBS codec_static)
lic_add_test(test_container SOURCES test_container.c LIBS codec_static)
