# mdpipe for Exim, Debian's split configuration (dc_use_split_config='true'
# in update-exim4.conf.conf): run in this directory as root, then
# update-exim4.conf and invoke-rc.d exim4 restart. See mdpipe-mta(7).
# Placeholders: @EXIM_DIR@ (/etc/exim4), and in the conf.d files
# @INTAKE_BASE@ (/var/spool/mdpipe), @USER@ and @GROUP@ (mdpipe).
cp conf.d/router/050_mdpipe @EXIM_DIR@/conf.d/router/
cp conf.d/transport/30_mdpipe @EXIM_DIR@/conf.d/transport/
sed -i -e "s/^dc_other_hostnames=''/dc_other_hostnames='lists.example.test'/" -e t \
  -e "s/^dc_other_hostnames='\(.*\)'/dc_other_hostnames='\1:lists.example.test'/" \
  @EXIM_DIR@/update-exim4.conf.conf
