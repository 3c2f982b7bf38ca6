/* consumer.c - an external program built against an installed libflp with
 * nothing but `pkg-config --cflags --libs libflp`: it may include only the
 * public umbrella header. Usage: consumer EXPECTED_VERSION (pkg-config's
 * --modversion). Prints OK and exits 0 when everything checks out. */
#include <flp/flp.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        flp_status st_ = (expr);                                                         \
        if (st_ != FLP_OK) {                                                             \
            fprintf(stderr, "consumer: %s -> %s: %s\n", #expr, flp_status_name(st_),     \
                    flp_last_error());                                                   \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer EXPECTED_VERSION\n");
        return 2;
    }
    /* Header, runtime library and libflp.pc must all agree on the version. */
    if (strcmp(flp_version(), FLP_VERSION_STRING) != 0 || strcmp(flp_version(), argv[1]) != 0 ||
        flp_version_number() != FLP_VERSION_NUMBER) {
        fprintf(stderr, "consumer: version mismatch: library %s (%u), header %s (%d), pkg-config %s\n",
                flp_version(), flp_version_number(), FLP_VERSION_STRING, FLP_VERSION_NUMBER, argv[1]);
        return 1;
    }

    flp_rng *rng = NULL;
    flp_net *net = NULL;
    CHECK(flp_rng_create(7, &rng));
    int64_t in = 3;
    CHECK(flp_net_create(1, &in, &net));
    CHECK(flp_net_add_linear(net, 4, 1));
    CHECK(flp_net_add_relu(net));
    CHECK(flp_net_add_linear(net, 2, 1));
    CHECK(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));

    float x[2 * 3], y[2 * 2];
    CHECK(flp_rng_uniform(rng, -1.0f, 1.0f, x, 2 * 3));
    CHECK(flp_net_forward(net, 2, x, y));
    for (int i = 0; i < 2 * 2; i++) {
        if (!isfinite(y[i])) {
            fprintf(stderr, "consumer: y[%d] = %g is not finite\n", i, (double)y[i]);
            return 1;
        }
    }

    /* Errors are reported, not fatal: a NULL array gives a status and a message. */
    flp_clear_error();
    if (flp_net_forward(net, 2, NULL, y) == FLP_OK || flp_last_error()[0] == '\0') {
        fprintf(stderr, "consumer: forward with x = NULL did not report an error\n");
        return 1;
    }

    flp_net_free(net);
    flp_rng_free(rng);
    flp_net_free(NULL);
    flp_rng_free(NULL);
    printf("OK libflp %s: y = [%g %g; %g %g]\n", flp_version(), (double)y[0], (double)y[1],
           (double)y[2], (double)y[3]);
    return 0;
}
