/* golden.c: being written */
typedef int flp__placeholder_golden;
