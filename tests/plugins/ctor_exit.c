/* Test plugin: exits with status 3 in a constructor */
#include <higgsbox/plugin.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
__attribute__((constructor)) static void boom(void) { exit(3); }
static int p_create(const hbx_host_api *h, void **s) { (void)h; *s = NULL; return HBX_OK; }
static int p_fit(void *s) { (void)s;  return HBX_OK; }
static int p_predict(void *s, const hbx_dataset *pe, hbx_prediction *o)
{
    (void)s; (void)pe; 
    o->mu_hat = 1; o->delta_mu_hat = 0.5; o->p16 = 0.5; o->p84 = 1.5;
    return HBX_OK;
}
static void p_destroy(void *s) { (void)s; }
static hbx_plugin d = {HBX_PLUGIN_HEADER, "ctor_exit", "0", p_create, p_fit, p_predict, p_destroy};
HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void) {  return &d; }
