/* net/net_params.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_net_params;
