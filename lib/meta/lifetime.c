/* meta/lifetime.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_lifetime;
