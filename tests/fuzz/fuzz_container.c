/* lic fuzz target: the .lic container/header parser (codec/container.c), white-box.
 *
 * Properties: lic_peek_info() agrees with lic_container_parse_header(), which accepts whatever the
 * full lic_container_parse() accepts (peek does not need the payloads); an accepted buffer has valid fields,
 * unique known stream ids, payloads inside the buffer that tile it exactly after the header; and the
 * container is canonical: writing the parsed header and payloads back gives the input bytes again. */
#include <string.h>

#include "codec/container.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lic_container c;
    int ret = lic_container_parse(&c, data, size);
    lic_stream_info info;
    int peek = lic_peek_info(data, size, &info);
    lic_container h;
    int hdr = lic_container_parse_header(&h, data, size);
    FUZZ_CHECK(ret == 0 || ret == LIC_EBITSTREAM);
    FUZZ_CHECK(peek == hdr);
    FUZZ_CHECK(ret != 0 || hdr == 0);
    if (ret != 0)
        return 0;
    FUZZ_CHECK(memcmp(&info, &c.info, sizeof info) == 0);
    FUZZ_CHECK(info.width >= 1 && info.height >= 1);
    FUZZ_CHECK(info.quality >= 1 && info.quality <= 100);
    FUZZ_CHECK(info.fmt == LIC_PIXFMT_RGB8 || info.fmt == LIC_PIXFMT_GRAY8);
    FUZZ_CHECK(info.n_streams >= 1 && info.n_streams <= LIC_MAX_STREAMS);
    FUZZ_CHECK(info.header_size <= size);

    size_t pos = (size_t)info.header_size;
    size_t sizes[LIC_MAX_STREAMS];
    const uint8_t *payloads[LIC_MAX_STREAMS];
    for (uint32_t i = 0; i < info.n_streams; i++) {
        FUZZ_CHECK(c.stream_id[i] == LIC_STREAM_Z || c.stream_id[i] == LIC_STREAM_Y);
        FUZZ_CHECK(lic_container_find(&c, c.stream_id[i]) == (int)i);
        FUZZ_CHECK(c.stream_data[i] == data + pos);
        FUZZ_CHECK(c.stream_size[i] <= size - pos);
        pos += c.stream_size[i];
        sizes[i] = c.stream_size[i];
        payloads[i] = c.stream_data[i];
    }
    FUZZ_CHECK(pos == size);

    size_t total = lic_container_size((int)info.n_streams, sizes);
    FUZZ_CHECK(total == size);
    uint8_t *copy = malloc(total);
    FUZZ_CHECK(copy != NULL);
    lic_container_write(copy, &info, (int)info.n_streams, c.stream_id, payloads, sizes);
    FUZZ_CHECK(memcmp(copy, data, size) == 0);
    free(copy);
    return 0;
}
