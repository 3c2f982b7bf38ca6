/* meta/lifetime_reverse.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_lifetime_reverse;
