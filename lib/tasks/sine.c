/* tasks/sine.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_sine;
