/* Linked by setuptools-wasm into modules with C++ sources built with wasi=False.
 *
 * libc++ reports a failed check (std::vector::at out of range, a length_error with exceptions
 * off, ...) through std::__libcpp_verbose_abort, which prints the message to stderr and then
 * aborts: the stderr machinery imports WASI's fd_write, fd_seek and fd_close, and a module
 * built with wasi=False must import nothing. libc++ lets a program replace the function (its
 * own definition is weak); this one traps at once, as abort() does in wasm32-wasi, so the
 * caller sees the same KernelTrap without a message.
 */
#pragma clang diagnostic ignored "-Weverything" /* built with the user's flags (-Werror, ...) */

#include <cstddef>

#if defined(_LIBCPP_VERSION) && __has_include(<__verbose_abort>)
#include <__verbose_abort>

_LIBCPP_BEGIN_NAMESPACE_STD
void __libcpp_verbose_abort(const char *, ...) _NOEXCEPT { __builtin_trap(); }
_LIBCPP_END_NAMESPACE_STD
#endif
