/* A shared object that is not a servo plugin: it exports no servo_plugin_manifest. */
#include <servo/abi.h>

SERVO_EXPORT int servo_test_not_a_plugin(void);

int servo_test_not_a_plugin(void)
{
    return 42;
}
