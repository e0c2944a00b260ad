# Desktop integration of the GNOME app: desktop file, AppStream metainfo, GSettings schema,
# icons, D-Bus service. Translated fields are merged from po/ with msgfmt.
APP_ID = io.github.chinwag.Chinwag

desktopdir = $(datadir)/applications
desktop_DATA = data/$(APP_ID).desktop
data/$(APP_ID).desktop: $(srcdir)/data/$(APP_ID).desktop.in $(wildcard $(srcdir)/po/*.po)
	@$(MKDIR_P) data
	$(AM_V_GEN)$(MSGFMT_FOR_DATA) --desktop --template $< -d $(srcdir)/po -o $@

metainfodir = $(datadir)/metainfo
metainfo_DATA = data/$(APP_ID).metainfo.xml
data/$(APP_ID).metainfo.xml: $(srcdir)/data/$(APP_ID).metainfo.xml.in $(wildcard $(srcdir)/po/*.po)
	@$(MKDIR_P) data
	$(AM_V_GEN)$(MSGFMT_FOR_DATA) --xml --template $< -d $(srcdir)/po -o $@

dbusservicedir = $(datadir)/dbus-1/services
dbusservice_DATA = data/$(APP_ID).service
data/$(APP_ID).service: $(srcdir)/data/$(APP_ID).service.in Makefile
	@$(MKDIR_P) data
	$(AM_V_GEN)sed -e 's|@bindir[@]|$(bindir)|g' $< > $@

gsettingsschemadir = $(datadir)/glib-2.0/schemas
dist_gsettingsschema_DATA = data/$(APP_ID).gschema.xml

# For running uninstalled and for the tests: GSETTINGS_SCHEMA_DIR=$(builddir)/data.
data/gschemas.compiled: $(srcdir)/data/$(APP_ID).gschema.xml
	@$(MKDIR_P) data
	$(AM_V_GEN)$(GLIB_COMPILE_SCHEMAS) --strict --targetdir=data $(srcdir)/data

iconscalabledir = $(datadir)/icons/hicolor/scalable/apps
dist_iconscalable_DATA = data/icons/hicolor/scalable/apps/$(APP_ID).svg
iconsymbolicdir = $(datadir)/icons/hicolor/symbolic/apps
dist_iconsymbolic_DATA = data/icons/hicolor/symbolic/apps/$(APP_ID)-symbolic.svg

noinst_DATA = data/gschemas.compiled locale/stamp

# The translations as a locale tree in the build (locale/<lang>/LC_MESSAGES/chinwag.mo), so the
# apps run uninstalled in another language: CHINWAG_LOCALEDIR=$(abs_builddir)/locale.
locale/stamp: $(srcdir)/po/LINGUAS $(wildcard $(srcdir)/po/*.po)
	$(AM_V_GEN)for lang in `sed -e 's/#.*//' $(srcdir)/po/LINGUAS`; do \
	  $(MKDIR_P) locale/$$lang/LC_MESSAGES && \
	  $(MSGFMT_FOR_DATA) -c -o locale/$$lang/LC_MESSAGES/$(GETTEXT_PACKAGE).mo $(srcdir)/po/$$lang.po || exit 1; \
	done; touch $@
clean-local: clean-local-locale
clean-local-locale:
	-rm -rf locale
CLEANFILES += $(desktop_DATA) $(metainfo_DATA) $(dbusservice_DATA) data/gschemas.compiled
EXTRA_DIST += data/$(APP_ID).desktop.in data/$(APP_ID).metainfo.xml.in data/$(APP_ID).service.in \
	data/screenshots/main.png

# Distributions compile schemas in a package trigger; a plain `make install` does it here.
# Skipped for staged installs (DESTDIR), where the target system does it.
install-data-hook: install-data-hook-gsettings
install-data-hook-gsettings:
	if test -z "$(DESTDIR)"; then $(GLIB_COMPILE_SCHEMAS) "$(gsettingsschemadir)"; fi
uninstall-hook: uninstall-hook-gsettings
uninstall-hook-gsettings:
	if test -z "$(DESTDIR)"; then \
	  if ls "$(gsettingsschemadir)"/*.xml >/dev/null 2>&1; then $(GLIB_COMPILE_SCHEMAS) "$(gsettingsschemadir)"; \
	  else rm -f "$(gsettingsschemadir)/gschemas.compiled"; fi; \
	fi

# Copies the screenshot the GUI test took into the source tree (the metainfo references it).
update-screenshots:
	cp tests/gui/screenshots/main-light.png $(srcdir)/data/screenshots/main.png
.PHONY: update-screenshots install-data-hook-gsettings uninstall-hook-gsettings clean-local-locale
