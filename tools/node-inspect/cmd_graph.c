/* stub */
#include "inspect.h"
int ins_cmd_graph(ins_ctx *x) { (void)x; return 0; }
int ins_cmd_delivery(ins_ctx *x) { (void)x; return 0; }
int ins_cmd_why(ins_ctx *x) { (void)x; return 0; }
