// weft — build configuration shared by every public header.
#pragma once

// Symbols are hidden by default (the library is built with -fvisibility=hidden);
// WEFT_API marks the ones that form the public ABI.
#if defined(WEFT_BUILDING_LIBRARY)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

// WEFT_CONST marks a function whose result depends on nothing but its arguments and that has
// no effects (GCC's and Clang's `const`): a compiler may merge or drop calls to it.
#if defined(__GNUC__)
#define WEFT_CONST [[gnu::const]]
#else
#define WEFT_CONST
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
