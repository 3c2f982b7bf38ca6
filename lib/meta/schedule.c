/* meta/schedule.c: being written (placeholder so the tree builds) */
typedef int flp__placeholder_schedule;
