import com.thoughtworks.xstream.XStream;
import com.thoughtworks.xstream.security.AnyTypePermission;
import java.lang.reflect.Field;

/**
 * Starts Debian's JMeter 2.13 in non-GUI mode. Debian pairs it with XStream 1.4.20, whose
 * default security refuses every class JMeter's test plans are made of
 * (ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper); this opens JMeter's two
 * XStream instances to the types of its own plans and results, then hands over to JMeter.
 */
public final class CmcJMeter {
    public static void main(String[] args) throws Exception {
        // SaveService reads JMeter's properties when its class loads.
        String home = System.getProperty("jmeter.home", "/usr/share/jmeter");
        org.apache.jmeter.util.JMeterUtils.setJMeterHome(home);
        org.apache.jmeter.util.JMeterUtils.loadJMeterProperties(home + "/bin/jmeter.properties");
        Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService");
        for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
            Field field = saveService.getDeclaredField(name);
            field.setAccessible(true);
            ((XStream) field.get(null)).addPermission(AnyTypePermission.ANY);
        }
        new org.apache.jmeter.JMeter().start(args);
    }
}
