/* net/conv2d.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_conv2d;
