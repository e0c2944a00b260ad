dnl Chinwag's configure helpers (aclocal reads this file by itself; m4/ is generated).

dnl CW_REQUIRE_PKG(PKG-CONFIG-MODULE, MIN-VERSION, DEBIAN-PACKAGE)
dnl Stops with one plain sentence naming the Debian package to install or upgrade when the
dnl module is missing or older than MIN-VERSION (the version the code needs).
AC_DEFUN([CW_REQUIRE_PKG], [
  AC_MSG_CHECKING([for $1 >= $2])
  AS_IF([$PKG_CONFIG --atleast-version=$2 $1 2>/dev/null],
        [AC_MSG_RESULT([yes ($($PKG_CONFIG --modversion $1))])],
        [AS_IF([$PKG_CONFIG --exists $1 2>/dev/null],
               [AC_MSG_RESULT([no: $($PKG_CONFIG --modversion $1)])
                AC_MSG_ERROR([$1 $($PKG_CONFIG --modversion $1) is too old (Chinwag needs $2 or newer): upgrade the Debian package $3, e.g. with sudo tools/install-deps.])],
               [AC_MSG_RESULT([no])
                AC_MSG_ERROR([$1 was not found: install the Debian package $3, e.g. with sudo tools/install-deps.])])])
])
